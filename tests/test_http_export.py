"""The export route: the CLI's bytes over HTTP, its errors, and its signed links."""

import io
import time

import openpyxl
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gleif_data.config import ConfigError
from gleif_data.export import ExportFormat, ExportLayout, ExportOptions, export_bytes
from gleif_data.export_links import LinkSigner, SigningUnavailable
from gleif_data.filters import DomainFilter
from gleif_data.http_export import export_routes, max_exports_setting
from gleif_data.import_batch import import_batch
from gleif_data.view import export_options_from_query
from tests.support import ACME, ZETA, write_csv


@pytest.fixture
def batch(engine, tmp_path):
    rows = [[f"site{i}.com", ACME, f"=ACME {i}; Ltd", "0.5", "x"] for i in range(40)]
    rows += [["bare.org", "", "", "", ""], ["site3.com", ZETA, "Zeta GmbH", "", ""]]
    import_batch(engine, write_csv(tmp_path / "in.csv", rows), "b 1/ü")
    return engine


def client(engine, signer=None):
    app = Starlette(routes=export_routes(lambda: engine, lambda: signer))
    return TestClient(app)


@pytest.mark.parametrize(
    "export_format", [ExportFormat.CSV, ExportFormat.JSON, ExportFormat.PARQUET]
)
@pytest.mark.parametrize("layout", list(ExportLayout))
def test_the_route_streams_the_cli_bytes(batch, export_format, layout):
    options = ExportOptions(
        format=export_format,
        layout=layout,
        filters=DomainFilter(name_contains="acme 1", max_candidates=1),
    )
    response = client(batch).get("/api/export/b 1%2F\u00fc", params=options.to_query())
    assert response.status_code == 200
    assert response.content == export_bytes(batch, "b 1/ü", options)
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="gleif-export_b_1__'
    )
    assert "filename*=UTF-8''gleif-export_b_1_%C3%BC_" in response.headers["content-disposition"]


def test_xlsx_from_the_route_has_the_cli_cells(batch):
    options = ExportOptions(format=ExportFormat.XLSX, filters=DomainFilter(domain_contains="site1"))
    response = client(batch).get("/api/export/b 1%2F\u00fc", params=options.to_query())
    assert response.status_code == 200

    def cells(data):
        return list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))

    assert cells(response.content) == cells(export_bytes(batch, "b 1/ü", options))


def test_formula_guard_can_be_turned_off_as_on_the_cli(batch):
    raw = client(batch).get("/api/export/b 1%2F\u00fc", params={"formula_guard": "false"})
    guarded = client(batch).get("/api/export/b 1%2F\u00fc")
    assert b",=ACME 0; Ltd" in raw.content
    assert b",'=ACME 0; Ltd" in guarded.content


def test_an_unknown_batch_is_404(batch):
    response = client(batch).get("/api/export/nope")
    assert response.status_code == 404
    assert response.text == "no batch named 'nope'\n"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"format": "pdf"}, "format"),
        ({"layout": "rows"}, "layout"),
        ({"min_candidates": "-1"}, "min_candidates"),
        ({"max_candidates": "many"}, "max_candidates"),
        ({"min_candidates": "3", "max_candidates": "1"}, "min_candidates"),
        ({"formula_guard": "maybe"}, "formula_guard"),
        ({"domain": "x"}, "'domain'"),
    ],
)
def test_a_bad_parameter_is_400_naming_it(batch, params, named):
    response = client(batch).get("/api/export/b 1%2F\u00fc", params=params)
    assert response.status_code == 400
    assert response.text.startswith("bad parameter ")
    assert named in response.text


def test_parameters_and_options_convert_both_ways():
    options = ExportOptions(
        format=ExportFormat.PARQUET,
        layout=ExportLayout.CANDIDATE,
        filters=DomainFilter(domain_contains="%_'", min_candidates=0, max_candidates=3),
        formula_guard=False,
    )
    assert export_options_from_query(options.to_query()) == options


SIGNER = LinkSigner(b"test-secret-not-for-production")


def test_with_sign_in_configured_a_link_needs_a_valid_token(batch):
    http = client(batch, SIGNER)
    params = {"format": "csv", "name_contains": "zeta"}
    assert http.get("/api/export/b 1%2F\u00fc", params=params).status_code == 403

    token = SIGNER.sign("b 1/ü", params, "analyst@example.com")
    response = http.get("/api/export/b 1%2F\u00fc", params={**params, "token": token})
    assert response.status_code == 200
    assert response.text.count("\n") == 2

    altered = http.get("/api/export/b 1%2F\u00fc", params={"format": "csv", "token": token})
    assert altered.status_code == 403
    other_batch = SIGNER.sign("other", params, "analyst@example.com")
    assert (
        http.get("/api/export/b 1%2F\u00fc", params={**params, "token": other_batch}).status_code
        == 403
    )


def test_without_a_token_a_request_learns_nothing_about_its_parameters(batch):
    response = client(batch, SIGNER).get("/api/export/b 1%2F\u00fc", params={"nope": "1"})
    assert response.status_code == 403


def test_a_route_that_cannot_check_links_refuses_every_request(batch):
    def unavailable():
        raise SigningUnavailable("sign-in is on but [auth] has no cookie_secret")

    http = TestClient(Starlette(routes=export_routes(lambda: batch, unavailable)))
    token = SIGNER.sign("b 1/\u00fc", {"format": "csv"}, "analyst@example.com")
    for params in ({"format": "csv"}, {"format": "csv", "token": token}):
        response = http.get("/api/export/b 1%2F\u00fc", params=params)
        assert response.status_code == 503
        assert "cookie_secret" in response.text
        assert "site1.com" not in response.text


def test_an_expired_link_is_refused_with_a_reason(batch):
    params = {"format": "csv"}
    token = SIGNER.sign("b 1/ü", params, "analyst@example.com", lifetime=60, now=time.time() - 120)
    response = client(batch, SIGNER).get(
        "/api/export/b 1%2F\u00fc", params={**params, "token": token}
    )
    assert response.status_code == 403
    assert "expired" in response.text


def test_a_token_from_another_secret_is_refused():
    params = {"format": "csv"}
    forged = LinkSigner(b"another-secret").sign("b", params, "mallory")
    with pytest.raises(Exception, match="not valid"):
        SIGNER.verify(forged, "b", params)


def test_qa_filters_travel_as_parameters_both_ways():
    from gleif_data.flags import Flag
    from gleif_data.qa_state import QaStatus

    options = ExportOptions(
        filters=DomainFilter(
            flags={Flag.SHARED_LEI, Flag.INVALID_LEI},
            qa_status=QaStatus.NO_MATCH,
            min_name_score=10,
            max_name_score=90,
        )
    )
    params = options.to_query()
    assert params["flags"] == "invalid_lei,shared_lei"
    assert params["qa_status"] == "no match"
    assert export_options_from_query(params) == options


@pytest.mark.parametrize(
    ("params", "named"),
    [({"flags": "invalid_lei,nope"}, '"nope"'), ({"qa_status": "done"}, '"done"')],
)
def test_unknown_flags_and_states_are_400(batch, params, named):
    response = client(batch).get("/api/export/b 1%2F\u00fc", params=params)
    assert response.status_code == 400
    assert named in response.text


def test_the_route_filters_by_flag(batch):
    response = client(batch).get("/api/export/b 1%2F\u00fc", params={"flags": "no_candidate"})
    assert response.text.splitlines()[1:] == ["bare.org,0,,"]


@pytest.mark.parametrize(("environ", "expected"), [({}, 10), ({"GLEIF_MAX_EXPORTS": " 3 "}, 3)])
def test_the_bound_on_exports_at_once_comes_from_the_environment(environ, expected):
    assert max_exports_setting(environ) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "many", "2.5"])
def test_a_bad_bound_on_exports_is_refused_naming_the_variable(raw):
    with pytest.raises(ConfigError, match="GLEIF_MAX_EXPORTS must be a whole number"):
        max_exports_setting({"GLEIF_MAX_EXPORTS": raw})


def test_a_head_request_answers_the_download_headers_without_a_body(batch):
    response = client(batch).head("/api/export/b 1%2F\u00fc", params={"format": "parquet"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"].startswith("attachment; ")
