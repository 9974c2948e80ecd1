"""Field intake: SMS and KoboToolbox reports, their secrets and the held queue.

May import: every other incidents subpackage and geo; nothing of alerts or api. `sms` and
`kobo` are pure (`sms` holds the one GSM-7 encoder, which alerts imports).
"""
