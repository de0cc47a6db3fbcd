"""Runs `symbolon wallet init` on a pseudo-terminal and types the passphrase twice.

Waits until the program has switched terminal echo off before typing (so the check does
not depend on timing), then prints one JSON object: everything the terminal showed and
the exit status. Usage: pty_passphrase.py <symbolon binary> <wallet dir> <passphrase>
"""

import json
import os
import pty
import select
import sys
import termios
import time

binary, wallet_dir, passphrase = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.environ.pop("SYMBOLON_WALLET_PASSPHRASE", None)
    os.execv(binary, [binary, "wallet", "--wallet-dir", wallet_dir, "init"])

shown = b""


def read_available(timeout):
    global shown
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:  # the child closed the terminal
        return None
    if not data:
        return None
    shown += data
    return True


def wait_for_prompt_with_echo_off(prompt):
    """Waits until `prompt` is on the screen and the terminal's echo is off."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if prompt in shown and not termios.tcgetattr(fd)[3] & termios.ECHO:
            return True
        if read_available(0.01) is None:
            return False
    return False


answers = []
for prompt in (b"Wallet passphrase:", b"Repeat the passphrase:"):
    answers.append(wait_for_prompt_with_echo_off(prompt))
    os.write(fd, passphrase.encode() + b"\n")

while read_available(30):
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({
    "shown": shown.decode(errors="replace"),
    "echo_off_before_typing": answers,
    "exit": os.waitstatus_to_exitcode(status),
}))
