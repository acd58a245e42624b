"""dnsbridge: onboard a sender domain to Tencent Cloud SES in one step."""

__version__ = "0.1.0"
