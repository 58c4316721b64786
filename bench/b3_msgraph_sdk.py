"""B3 companion: page a simulator tenant's managed devices with Microsoft's msgraph-sdk, storing nothing.

Runs in a throwaway virtual environment (msgraph-sdk is not a TenantAtlas dependency):

    uv venv /tmp/msgraph-venv -p .venv/bin/python && uv pip install -p /tmp/msgraph-venv/bin/python msgraph-sdk
    .venv/bin/python bench/b3_inventory.py --msgraph-python /tmp/msgraph-venv/bin/python

It is pointed at the simulator with a kiota request adapter whose ``base_url`` is the
simulator's and whose httpx client trusts the simulator CA and carries a token fetched from
the simulator's token endpoint (the SDK's own auth providers assume Microsoft's hosts).
Prints one JSON line: seconds and devices (``--max-devices`` bounds the walk: the SDK is slow).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
from kiota_abstractions.authentication.anonymous_authentication_provider import (
    AnonymousAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.device_management.managed_devices.managed_devices_request_builder import (
    ManagedDevicesRequestBuilder,
)


async def page_all(args: argparse.Namespace) -> dict[str, float]:
    async with httpx.AsyncClient(verify=args.ca, timeout=60) as auth:
        reply = await auth.post(
            f"{args.base_url}/{args.tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": args.client_id,
                "client_secret": args.secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        )
        reply.raise_for_status()
        token = reply.json()["access_token"]
    started = time.perf_counter()
    http = httpx.AsyncClient(
        verify=args.ca, timeout=60, headers={"Authorization": f"Bearer {token}"}
    )
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = f"{args.base_url}/v1.0"
    client = GraphServiceClient(request_adapter=adapter)
    query = ManagedDevicesRequestBuilder.ManagedDevicesRequestBuilderGetQueryParameters(
        select=args.select.split(",")
    )
    config = ManagedDevicesRequestBuilder.ManagedDevicesRequestBuilderGetRequestConfiguration(
        query_parameters=query
    )
    page = await client.device_management.managed_devices.get(request_configuration=config)
    devices = 0
    while page is not None:
        devices += len(page.value or [])
        if not page.odata_next_link or devices >= args.max_devices:
            break
        page = await client.device_management.managed_devices.with_url(page.odata_next_link).get()
    await http.aclose()
    return {"seconds": time.perf_counter() - started, "devices": devices}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name in ("--base-url", "--ca", "--tenant", "--client-id", "--secret", "--select"):
        parser.add_argument(name, required=True)
    parser.add_argument("--max-devices", type=int, default=10**9, help="stop after this many")
    print(json.dumps(asyncio.run(page_all(parser.parse_args()))))


if __name__ == "__main__":
    main()
