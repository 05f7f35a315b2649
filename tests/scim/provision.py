"""An independent SCIM client (scim2-client, over httpx2) provisioning people into Concierge.

Run by the Rust test tests/tests/e2e_postgres/scim.rs against a server it started:

    python provision.py <base URL, e.g. http://127.0.0.1:8080/scim/v2> <SCIM token> <suffix>

It discovers the server (ServiceProviderConfig, ResourceTypes, Schemas), creates a person, finds
them by userName, pages through the people, patches their given name, deactivates them with a
PATCH of `active`, and reads them back: every response is validated by scim2-models. It prints
one JSON object of what it saw, which the Rust test checks against what Concierge holds.
"""

import json
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ListResponse, PatchOp, SearchRequest


def main() -> None:
    base_url, token, suffix = sys.argv[1], sys.argv[2], sys.argv[3]
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    scim = SyncSCIMClient(http)
    scim.discover()
    User = scim.get_resource_model("User")
    seen: dict = {
        "patch_supported": bool(scim.provider.config.patch.supported),
        "filter_supported": bool(scim.provider.config.filter.supported),
    }

    user_name = f"grace.{suffix}@people.scim-provisioned.org"
    # The User model is the one the server's Schemas describe (built by discover()).
    created = scim.create(
        User.model_validate(
            {
                "userName": user_name,
                "name": {"givenName": "Grace", "familyName": "Hopper"},
                "emails": [{"value": user_name, "primary": True, "type": "work"}],
                "active": True,
            }
        )
    )
    seen["id"] = created.id
    seen["created_user_name"] = created.user_name
    seen["created_active"] = created.active

    found = scim.query(
        User, query_parameters=SearchRequest(filter=f'userName eq "{user_name.upper()}"')
    )
    assert isinstance(found, ListResponse), found
    seen["filtered_total"] = found.total_results
    seen["filtered_ids"] = [r.id for r in found.resources or []]

    page = scim.query(User, query_parameters=SearchRequest(start_index=2, count=1))
    seen["page_total"] = page.total_results
    seen["page_start_index"] = page.start_index
    seen["page_items"] = len(page.resources or [])

    patched = scim.modify(
        User,
        created.id,
        PatchOp[User](
            operations=[{"op": "replace", "path": "name.givenName", "value": "Amazing Grace"}]
        ),
    )
    seen["patched_given_name"] = patched.name.given_name if patched else None

    deactivated = scim.modify(
        User,
        created.id,
        PatchOp[User](operations=[{"op": "replace", "path": "active", "value": False}]),
    )
    seen["deactivated_active"] = deactivated.active if deactivated else None

    again = scim.query(User, created.id)
    seen["read_back_active"] = again.active
    seen["read_back_given_name"] = again.name.given_name
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
