"""Field intake: SMS, KoboToolbox and ODK Collect (OpenRosa) reports, their secrets and logins,
the XForm instances received, and the held queue.

May import: every other incidents subpackage and geo; nothing of alerts or api. `sms`, `kobo`
and `openrosa` are pure (`sms` holds the one GSM-7 encoder, which alerts imports).
"""
