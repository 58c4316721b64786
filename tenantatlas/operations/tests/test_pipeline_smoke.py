from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.worker import execute
from tenantatlas.testing import make_sim_connection

CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"


def test_it_runs_health_inventory_compliance(sim, acme, alice, django_capture_on_commit_callbacks):
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    for op in ["provider.health_check", "inventory.sync", "compliance.snapshot"]:
        with django_capture_on_commit_callbacks(execute=False):
            result = start_operation(actor=alice, member=None, connection=conn, operation_type=op)
        with django_capture_on_commit_callbacks(execute=True):
            status = execute(result.run.pk)
        run = OperationRun.objects.get(pk=result.run.pk)
        print(op, status, run.reason_code, run.failure_message, run.summary_counts)
        assert status == "succeeded", (run.reason_code, run.failure_message, run.context)
    conn.refresh_from_db()
    assert conn.health == "healthy"
    assert conn.inventory_items.filter(kind="managed_device").count() == 5000
