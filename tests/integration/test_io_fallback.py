"""The io_uring -> epoll fallback against a real refusal: a seccomp filter, as container runtimes
install (Docker's default profile refuses io_uring), makes io_uring_setup fail with EPERM.

The filter is installed in the server's process before exec (prctl(PR_SET_SECCOMP), through
ctypes, no library needed) and is inherited by every thread. The unit tests simulate the refusal
with HARRIER_IO_URING_DISABLE; this one lets the kernel refuse.
"""

import ctypes
import errno
import http.client
import platform
import struct
import subprocess
import unittest

import harness

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
AUDIT_ARCH_X86_64 = 0xC000003E
NR_IO_URING_SETUP = 425  # the same number on every architecture since 5.1
# BPF: ld, jeq, ret
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
BPF_JGT_K = 0x25


def io_uring_filter(error=errno.EPERM, above_entries=None):
    """A preexec_fn: io_uring_setup fails with `error` in this process and its threads; only when
    it asks for more than `above_entries` entries, if given (the probe's 4-entry ring passes)."""
    def op(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    refuse = op(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | error)
    allow = op(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    program = [
        op(BPF_LD_W_ABS, 0, 0, 4),                     # seccomp_data.arch
        op(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        allow,                                          # another ABI: leave it alone
        op(BPF_LD_W_ABS, 0, 0, 0),                     # seccomp_data.nr
    ]
    if above_entries is None:
        program += [op(BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP), refuse, allow]
    else:
        program += [op(BPF_JEQ_K, 0, 3, NR_IO_URING_SETUP),
                    op(BPF_LD_W_ABS, 0, 0, 16),        # args[0] (entries), low word
                    op(BPF_JGT_K, 0, 1, above_entries), refuse, allow]
    program = b"".join(program)

    def install():
        buffer = ctypes.create_string_buffer(program)

        class sock_fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        prog = sock_fprog(len(program) // 8, ctypes.addressof(buffer))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
    return install


refuse_io_uring = io_uring_filter()


@unittest.skipUnless(platform.machine() == "x86_64", "the filter is written for x86_64")
class IoUringRefusedBySeccomp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            subprocess.run(["true"], preexec_fn=refuse_io_uring, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            raise unittest.SkipTest(f"cannot install a seccomp filter here: {e}")

    def test_the_filter_refuses_io_uring(self):
        # The premise: a child under the filter gets EPERM from io_uring_setup.
        code = ("import ctypes, errno; libc = ctypes.CDLL(None, use_errno=True);"
                "p = ctypes.create_string_buffer(120);"
                "r = libc.syscall(425, 4, p);"
                "raise SystemExit(0 if r == -1 and ctypes.get_errno() == errno.EPERM else 1)")
        result = subprocess.run(["python3", "-c", code], preexec_fn=refuse_io_uring, timeout=30)
        self.assertEqual(result.returncode, 0)

    def test_the_default_backend_falls_back_to_epoll_and_serves(self):
        server = harness.Server(preexec_fn=refuse_io_uring).start()
        try:
            server.wait_for_log(r"io_uring refused \(io_uring_setup: EPERM.*falling back to epoll")
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            for _ in range(3):  # keep-alive on the epoll backend
                conn.request("GET", "/plaintext")
                response = conn.getresponse()
                self.assertEqual(response.status, 200)
                self.assertEqual(response.read(), b"Hello, World!")
            conn.request("GET", "/metrics")
            metrics = conn.getresponse().read().decode()
            self.assertRegex(metrics, r'harrier_io_backend_info\{[^}]*backend="epoll"[^}]*\} 1')
            conn.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def test_asking_for_io_uring_when_refused_exits_with_a_clear_error(self):
        result = subprocess.run([harness.SERVER, "--urls", "http://127.0.0.1:0", "--io", "io_uring"],
                                preexec_fn=refuse_io_uring, capture_output=True, text=True,
                                timeout=30)
        self.assertNotEqual(result.returncode, 0)
        self.assertLess(result.returncode, 128, "killed by a signal, not a clean exit")
        self.assertIn("io_uring", result.stdout + result.stderr)
        self.assertNotIn("listening on", result.stdout + result.stderr)


    def test_a_ring_refused_after_the_probe_passed_falls_back_too(self):
        # Only rings above 4 entries are refused: the probe passes, every reactor's ring fails
        # (as under a memory limit).
        server = harness.Server(preexec_fn=io_uring_filter(errno.ENOMEM, above_entries=4)).start()
        try:
            server.wait_for_log(r"io_uring ring setup failed \(.*\); falling back to epoll")
            self.assertIn("(io: epoll,", server.log())
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            conn.request("GET", "/plaintext")
            self.assertEqual(conn.getresponse().read(), b"Hello, World!")
            conn.close()
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
