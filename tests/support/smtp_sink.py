"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, each message
written as a file into the directory given. With a second argument N, the first N
messages are refused with a temporary failure (451), as a busy server would. Prints the
port on stdout, then serves until stdin closes (so it dies with the test that started
it)."""
import socket
import sys
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, refuse_first):
        self.directory = Path(directory)
        self.refuse = refuse_first

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        name = self.directory / f"{uuid.uuid4()}.eml"
        tmp = name.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(name)
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    refuse_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    controller = Controller(Sink(sys.argv[1], refuse_first), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
