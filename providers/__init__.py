"""DNS provider adapters shipped with dnsbridge; each registers under `dnsbridge.providers`."""
