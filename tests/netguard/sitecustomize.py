"""Loaded by every Python process started with this folder first on PYTHONPATH (the ``no_network`` fixture,
tests/conftest.py): refuses and records each network connection the process, or a child it forks, tries.

Python runs ``sitecustomize`` at start-up; a forked child (multiprocessing's default on Linux, as OpenVINO's
telemetry used) keeps the patched functions. Refused: a connect to any address but this machine's own (loopback,
or an address it can bind: Ray's node address), and a lookup of any name but ``localhost``. Each try appends its
target, the process and the stack to ``$FEATCACHE_NETGUARD_LOG`` (the stack of the last
``ThreadPoolExecutor.submit`` too: a thread pool's worker, or a child forked from it, shows only its own frames).
Native code's connections (ONNX Runtime's uploader) are not seen here: the fixture points the proxy variables at a
recorder for those.

Python imports the first ``sitecustomize`` on its path, so in those subprocesses this one shadows any the system
(a distribution's, a virtual environment's) has: harmless there, as they are test processes that need none of it.
"""

import os

LOG = os.environ.get("FEATCACHE_NETGUARD_LOG")

if LOG:
    import concurrent.futures
    import ipaddress
    import socket
    import traceback

    _submitted: list[str] = []
    _submit = concurrent.futures.ThreadPoolExecutor.submit

    def _recording_submit(self, fn, *args, **kwargs):
        del _submitted[:-1]
        _submitted.append("".join(traceback.format_stack()[:-1]))
        return _submit(self, fn, *args, **kwargs)

    def _refuse(what: str, target) -> None:
        stack = "".join(traceback.format_stack()[:-2])
        queued = f"queued by ThreadPoolExecutor.submit from:\n{_submitted[-1]}" if _submitted else ""
        with open(LOG, "a") as f:
            f.write(f"=== {what} {target!r} (pid {os.getpid()})\n{stack}{queued}\n")
        raise ConnectionRefusedError(f"no network in this test: {what} {target!r}")

    _mine: dict[str, bool] = {}

    def _local(host) -> bool:
        """``localhost``, a loopback address, or an address of this machine (Ray's node address): one it can bind."""
        if host in ("localhost", "", None):
            return True
        try:
            address = ipaddress.ip_address(str(host).split("%")[0])
        except ValueError:
            return False  # a name: looking it up may ask a DNS server
        if address.is_loopback or address.is_unspecified:
            return True
        if str(address) not in _mine:
            probe = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((str(address), 0))
                _mine[str(address)] = True
            except OSError:
                _mine[str(address)] = False
            finally:
                probe.close()
        return _mine[str(address)]

    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
    _create_connection, _getaddrinfo = socket.create_connection, socket.getaddrinfo
    _gethostbyname, _gethostbyname_ex = socket.gethostbyname, socket.gethostbyname_ex

    def _connect_checked(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _refuse("connect", address)
        return _connect(self, address)

    def _connect_ex_checked(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _refuse("connect", address)
        return _connect_ex(self, address)

    def _create_connection_checked(address, *args, **kwargs):
        if not _local(address[0]):
            _refuse("create_connection", address)
        return _create_connection(address, *args, **kwargs)

    def _getaddrinfo_checked(host, *args, **kwargs):
        if not _local(host.decode() if isinstance(host, bytes) else host):
            _refuse("getaddrinfo", host)
        return _getaddrinfo(host, *args, **kwargs)

    def _gethostbyname_checked(host):
        if not _local(host):
            _refuse("gethostbyname", host)
        return _gethostbyname(host)

    def _gethostbyname_ex_checked(host):
        if not _local(host):
            _refuse("gethostbyname_ex", host)
        return _gethostbyname_ex(host)

    concurrent.futures.ThreadPoolExecutor.submit = _recording_submit
    socket.socket.connect, socket.socket.connect_ex = _connect_checked, _connect_ex_checked
    socket.create_connection, socket.getaddrinfo = _create_connection_checked, _getaddrinfo_checked
    socket.gethostbyname, socket.gethostbyname_ex = _gethostbyname_checked, _gethostbyname_ex_checked
