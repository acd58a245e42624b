"""The contract's Route 53 world: moto's server for the API, mirrored into the sandbox's zones
so the local DNS server and the SES emulator see what boto3 wrote."""

from __future__ import annotations

import time
from typing import Any

from dnsbridge.sandbox.route53 import Route53Mirror
from providers.route53 import encode_txt
from tests.worlds import StoreWorld

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAMOTOSANDBOX00000",
    "AWS_SECRET_ACCESS_KEY": "moto-sandbox-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Route53World(StoreWorld):
    provider = "route53"

    def __init__(self) -> None:
        super().__init__()
        self.mirror = Route53Mirror(self.box.store)
        self.setup_writes = 0

    def __enter__(self) -> Route53World:
        super().__enter__()
        self.mirror.start()
        import boto3

        self.client: Any = boto3.client("route53", endpoint_url=self.mirror.endpoint, **_boto_args())
        self._zone_ids: dict[str, str] = {}
        return self

    def __exit__(self, *exc: object) -> None:
        self.mirror.stop()
        super().__exit__(*exc)

    def env(self) -> dict[str, str]:
        return {**super().env(), **AWS_ENV, "AWS_ENDPOINT_URL_ROUTE_53": self.mirror.endpoint}

    def add_zone(self, name: str) -> None:
        reply = self.client.create_hosted_zone(Name=name, CallerReference=f"{name}-{time.time_ns()}")
        self._zone_ids[name] = reply["HostedZone"]["Id"]
        self.mirror.sync()

    def add(self, name: str, rtype: str, value: str, priority: int | None = None) -> None:
        zone = max((z for z in self._zone_ids if name == z or name.endswith("." + z)), key=len)
        existing = self.client.list_resource_record_sets(
            HostedZoneId=self._zone_ids[zone], StartRecordName=name, StartRecordType=rtype, MaxItems="1"
        )["ResourceRecordSets"]
        values = [
            r["Value"]
            for s in existing
            if s["Name"].rstrip(".") == name and s["Type"] == rtype
            for r in s.get("ResourceRecords", [])
        ]
        new = encode_txt(value) if rtype == "TXT" else f"{priority} {value}." if rtype == "MX" else value
        change = {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": name,
                "Type": rtype,
                "TTL": 300,
                "ResourceRecords": [{"Value": v} for v in [*values, new]],
            },
        }
        self.client.change_resource_record_sets(HostedZoneId=self._zone_ids[zone], ChangeBatch={"Changes": [change]})
        self.setup_writes += 1  # the world's own setup is not the provider's write
        self.mirror.sync()

    def values(self, name: str, rtype: str) -> list[str]:
        self.mirror.sync()
        return super().values(name, rtype)

    def snapshot(self) -> Any:
        self.mirror.sync()
        return super().snapshot()

    def writes(self) -> int:
        """ChangeResourceRecordSets requests that reached moto, less the world's own."""
        return self.mirror.count("POST", "/rrset") - self.setup_writes


def _boto_args() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": "us-east-1",
    }
