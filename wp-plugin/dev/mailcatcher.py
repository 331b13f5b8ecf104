"""A local SMTP catcher for the platform (wp-plugin/dev/up.sh): every mail it receives becomes two files in
``--dir``: ``NNNNNN.eml`` (the message as sent) and ``NNNNNN.json`` (``received_at``, ``mail_from``, ``rcpt_tos``,
``from``, ``to``, ``subject``, ``text``, ``html``), the JSON written last and atomically, so a reader that sees it
sees a complete mail. Nothing is ever relayed. Prints ``listening on HOST:PORT`` once it accepts connections.

    python wp-plugin/dev/mailcatcher.py --port 2525 --dir /tmp/lop-platform/mail
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller


class Catcher:
    def __init__(self, directory: str):
        self.directory = directory
        self.lock = threading.Lock()
        existing = [int(name[:6]) for name in os.listdir(directory) if name.endswith(".json") and name[:6].isdigit()]
        self.count = max(existing, default=0)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, f"{self.count:06d}")
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        record = {
            "received_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message.get("From", "")), "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "text": text_part.get_content() if text_part is not None else "",
            "html": html_part.get_content() if html_part is not None else "",
            "eml": base + ".eml",
        }
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", required=True, help="where the mails are written")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Catcher(args.dir), hostname=args.host, port=args.port)
    controller.start()  # returns once the server accepts connections
    print(f"listening on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
