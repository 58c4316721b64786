"""A 250,000-device tenant pages completely while the simulator holds nothing per device."""

from __future__ import annotations

import sys
import tracemalloc

import requests

from tenantatlas.simulator.tests.helpers import new_tenant, token_for

DEVICE_COUNT = 250_000
PAGE = 1000
TRACED_EARLY, TRACED_LATE = 8, 12


def test_it_pages_a_quarter_million_devices_with_flat_memory(simulator):
    """Memory is traced on the first and last pages only: tracing every page is too slow."""
    tenant = simulator.add_tenant(new_tenant(device_count=DEVICE_COUNT))
    session = requests.Session()
    session.verify = str(simulator.ca_bundle)
    session.headers["Authorization"] = f"Bearer {token_for(simulator, tenant)}"
    next_link: str | None = (
        f"{simulator.base_url}/v1.0/deviceManagement/managedDevices?$select=id&$top={PAGE}"
    )
    pages = DEVICE_COUNT // PAGE
    seen: set[str] = set()
    working: list[int] = []
    retained_from = retained_to = late_ids = set_before = 0
    page_no = 0
    while next_link:
        traced = page_no < TRACED_EARLY or page_no >= pages - TRACED_LATE
        if page_no == pages - TRACED_LATE:
            tracemalloc.start()
            retained_from = tracemalloc.get_traced_memory()[0]
            set_before = sys.getsizeof(seen)
        elif page_no == 0:
            tracemalloc.start()
        elif page_no == TRACED_EARLY:
            tracemalloc.stop()
        if traced:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        response = session.get(next_link, timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        if traced:
            working.append(tracemalloc.get_traced_memory()[1] - before)
        ids = [device["id"] for device in page["value"]]
        if page_no >= pages - TRACED_LATE:
            late_ids += sum(sys.getsizeof(device_id) for device_id in ids)
        seen.update(ids)
        next_link = page.get("@odata.nextLink")
        del response, page, ids
        page_no += 1
    retained_to = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

    assert page_no == pages
    assert len(seen) == DEVICE_COUNT
    # The working memory of one page does not depend on how deep into the tenant it is…
    early = sorted(working[:TRACED_EARLY])[TRACED_EARLY // 2]
    late = max(working[TRACED_EARLY:])
    assert late < early * 2 + 1_000_000, (early, late)
    # …and the last pages leave nothing behind but the client's own new ids and the growth
    # of its set (a server keeping 20,000 devices would leave several megabytes).
    leftover = retained_to - retained_from - late_ids - (sys.getsizeof(seen) - set_before)
    assert leftover < 1_000_000, leftover
