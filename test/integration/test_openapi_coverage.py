"""Every operation of openapi/oscred.yaml, and every action of its AWS Query API, had at least one response checked
against it by the suite. Runs last (conftest.py's _RUN_LAST); a run of part of the suite skips it, as most
operations are then not reached."""
import os

import pytest

import client
import openapi_check


def _whole_suite(session):
    opt = session.config.option
    if opt.keyword or opt.markexpr or opt.deselect or getattr(opt, "lf", False):
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    modules = {os.path.basename(str(item.fspath)) for item in session.items}
    return modules == {f for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py")}


def test_every_openapi_operation_was_exercised(request):
    if not _whole_suite(request.session):
        pytest.skip("only part of the suite ran")
    missing = client.openapi_uncovered()
    assert not missing, "OpenAPI operations no response of the suite was checked against: %s" % ", ".join(missing)
    # The AWS Query API is one operation (POST /) of many actions: each needs a successful answer checked too.
    actions = openapi_check.uncovered_query_actions()
    assert not actions, "Query API actions no successful answer of the suite was checked for: %s" % ", ".join(actions)
