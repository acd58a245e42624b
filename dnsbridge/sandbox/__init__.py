"""Local stand-ins for the cloud services dnsbridge talks to.

The emulators speak the services' real wire protocols on 127.0.0.1, so the real SDKs run against
them unchanged. They back both the test suite and `dnsbridge sandbox`, which lets a newcomer run
the whole onboarding flow without a cloud account.
"""
