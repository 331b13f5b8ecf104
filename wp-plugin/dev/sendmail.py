#!/usr/bin/env python3
"""PHP's sendmail_path on the platform (wp-plugin/dev/up.sh): mail WordPress itself sends (mail() through
wp_mail) goes to the local mail catcher instead of a sendmail that is not there. Standard library only.

    sendmail_path = "/usr/bin/python3 /path/to/sendmail.py --port 2525 -t -i"
"""

import argparse
import email
import email.policy
import email.utils
import smtplib
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=2525)
parser.add_argument("-t", action="store_true")  # recipients from the headers (what PHP asks for)
parser.add_argument("-i", action="store_true")
parser.add_argument("-f", default=None)
parser.add_argument("recipients", nargs="*")
args, _ = parser.parse_known_args()
raw = sys.stdin.buffer.read()
message = email.message_from_bytes(raw, policy=email.policy.default)
to = list(args.recipients) or [addr for _, addr in email.utils.getaddresses(
    message.get_all("To", []) + message.get_all("Cc", []) + message.get_all("Bcc", []))]
sender = args.f or email.utils.parseaddr(str(message.get("From", "")))[1] or "wordpress@lop.test"
with smtplib.SMTP("127.0.0.1", args.port, timeout=10) as smtp:
    smtp.sendmail(sender, to, raw)
