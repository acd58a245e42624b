from dnsbridge.cli import main

main()
