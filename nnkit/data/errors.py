"""The errors of IMDB loading and downloading (one module both use: no import between them)."""


class IMDBDataError(RuntimeError):
    """The IMDB data could not be found or read; the message says how to fix it."""


class IMDBNotFoundError(IMDBDataError, FileNotFoundError):
    """No IMDB data at any of the places looked at."""


class IMDBArchiveError(IMDBDataError):
    """The archive is empty, truncated, corrupt or not a tar file."""


class IMDBLayoutError(IMDBDataError):
    """The source holds no ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``."""


class IMDBChecksumError(IMDBDataError):
    """A downloaded archive does not have the expected md5."""


class IMDBDownloadError(IMDBDataError):
    """The archive could not be downloaded (no network, server down, HTTP error)."""
