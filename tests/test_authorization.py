"""Who may read and write what, checked on the server: the app served with logins (two trainees,
two trainers) and driven over gradio_client and raw HTTP, including the events the page uses
but the API page does not list (``api_visibility="private"`` hides an event; it does not stop a
call to it)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from app_support import OPENING_LINES, make_app, serving

import callcoach.serve as app_module
from callcoach.users import Users

ACCOUNTS = "ana:ana-pass-1,ben:ben-pass-1,tess:tess-pass-1:trainer,tom:tom-pass-1:trainer"
PASSWORDS = {"ana": "ana-pass-1", "ben": "ben-pass-1", "tess": "tess-pass-1", "tom": "tom-pass-1"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    demo = make_app(tmp_path_factory.mktemp("auth") / "data")
    demo.callcoach.users = Users.from_auth(ACCOUNTS)
    with serving(demo) as url:
        yield demo, url


def client(url: str, user: str):
    from gradio_client import Client

    return Client(url + "/", auth=(user, PASSWORDS[user]), verbose=False)


class Raw:
    """The page's own protocol over plain HTTP: log in, join the queue for an event, read the result."""

    def __init__(self, url: str, user: str | None):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
        if user:
            r = self.http.post("/login", data={"username": user, "password": PASSWORDS[user]})
            assert r.status_code == 200, r.text
        self.session = uuid.uuid4().hex[:11]

    def config(self) -> dict:
        r = self.http.get("/config")
        r.raise_for_status()
        return r.json()

    def fn_for(self, elem_id: str, event: str) -> tuple[int, int]:
        """(fn index, component id) of the ``event`` listener on the component ``elem_id``."""
        cfg = self.config()
        comp = next(c["id"] for c in cfg["components"] if c.get("props", {}).get("elem_id") == elem_id)
        for i, dep in enumerate(cfg["dependencies"]):
            if [comp, event] in [list(t) for t in dep["targets"]]:
                return dep.get("id", i), comp
        raise AssertionError(f"no {event} listener on #{elem_id}")

    def fn_named(self, api_name: str) -> int:
        deps = self.config()["dependencies"]
        return next(d.get("id", i) for i, d in enumerate(deps) if d.get("api_name") == api_name)

    def attempt(self, fn_index: int, trigger: int | None, data: list) -> str:
        """The event's outputs, or Gradio's refusal, as text (whatever comes back to the caller)."""
        try:
            return json.dumps(self.call(fn_index, trigger, data))
        except AssertionError as exc:
            return str(exc)

    def call(self, fn_index: int, trigger: int | None, data: list) -> list:
        r = self.http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": self.session, "event_data": None, "trigger_id": trigger,
        })
        r.raise_for_status()
        with self.http.stream("GET", f"/gradio_api/queue/data?session_hash={self.session}") as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    assert msg.get("success"), msg
                    return msg["output"]["data"]
        raise AssertionError("the event never completed")


@pytest.fixture(scope="module")
def ana_call(served):
    """Ana (a trainee) plays and finishes one call."""
    demo, url = served
    ana = client(url, "ana")
    ana.predict("Ana", "cooperative-maria", False, api_name="/start_call")
    ana.predict(OPENING_LINES[0] + " My SSN is 123-45-6789.", False, api_name="/say")
    ana.predict(False, api_name="/end_call")
    [rec] = demo.callcoach.history.list_calls("ana")
    return rec.id


def test_nobody_gets_in_without_a_login(served):
    _, url = served
    raw = Raw(url, None)
    assert raw.http.get("/config").status_code in (401, 403)
    r = raw.http.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"})
    assert r.status_code in (401, 403)
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 (any refusal will do: the point is no data)
        Client(url + "/", auth=("ana", "wrong-password"), verbose=False)


def test_calls_are_saved_under_the_login_not_the_typed_name(served, ana_call):
    demo, url = served
    ben = client(url, "ben")
    ben.predict("Ana", "hostile-mark", False, api_name="/start_call")  # types someone else's name
    ben.predict(False, api_name="/end_call")
    history = demo.callcoach.history
    assert history.owner(ana_call) == "ana"
    assert {c.trainee for c in history.list_calls()} == {"ana", "ben"}


def test_a_trainee_sees_only_their_own_history(served, ana_call):
    _, url = served
    out = client(url, "ben").predict("Ana", "", api_name="/my_history")
    text = json.dumps(out)
    assert ana_call not in text and "123-45-6789" not in text
    out = client(url, "ana").predict("", "", api_name="/my_history")
    assert ana_call in json.dumps(out)


def test_the_team_history_is_for_trainers_only(served, ana_call):
    _, url = served
    out = json.dumps(client(url, "ben").predict("All trainees", api_name="/team_history"))
    assert ana_call not in out and "Only trainers" in out
    out = json.dumps(client(url, "tess").predict("All trainees", api_name="/team_history"))
    assert ana_call in out


@pytest.mark.parametrize("picker", ["cc-open-call", "cc-team-open-call"])
def test_opening_a_call_by_id_over_raw_http_is_checked(served, ana_call, picker):
    _, url = served
    team = picker.startswith("cc-team")
    cases = (("ben", False), ("tom", True)) if team else (("ben", False), ("ana", True))
    for user, allowed in cases:
        raw = Raw(url, user)
        # list the calls first, in the same session, as the page does (this fills the picker)
        listing = raw.attempt(raw.fn_named("team_history" if team else "my_history"),
                              None, ["All trainees", None] if team else ["ana", "ana", None])  # None: the page's language (a State)
        assert (ana_call in listing) is allowed
        fn, trigger = raw.fn_for(picker, "change")
        detail = raw.attempt(fn, trigger, [ana_call, None])
        assert ("123-45-6789" in detail) is allowed, (user, detail[:300])


def test_the_server_refuses_a_call_detail_to_anyone_but_its_trainee_or_a_trainer(served, ana_call):
    # Gradio's dropdown check stops most forged ids; the server's own check stands behind it.
    from callcoach.ui.progress import call_detail
    from callcoach.users import TRAINEE, TRAINER, Viewer

    res = served[0].callcoach
    html, path = call_detail(res, ana_call, Viewer("ben", TRAINEE))
    assert "not in your history" in html and path is None
    assert "123-45-6789" in call_detail(res, ana_call, Viewer("ana", TRAINEE))[0]
    assert "123-45-6789" in call_detail(res, ana_call, Viewer("tess", TRAINER))[0]


def test_only_trainers_save_personas(served):
    demo, url = served
    res = demo.callcoach
    text = (res.base_persona_dirs[0] / "cooperative-maria.yaml").read_text(encoding="utf-8")
    draft = text.replace("id: cooperative-maria", "id: maria-by-ben")
    out = json.dumps(client(url, "ben").predict(draft, api_name="/save_persona"))
    assert "Only trainers" in out and not (res.custom_personas_dir / "maria-by-ben.yaml").exists()
    out = json.dumps(client(url, "tess").predict(draft.replace("maria-by-ben", "maria-by-tess"), api_name="/save_persona"))
    assert (res.custom_personas_dir / "maria-by-tess.yaml").exists(), out


def test_a_trainee_cannot_start_a_test_call_over_raw_http(served):
    demo, url = served
    raw = Raw(url, "ben")
    fn, trigger = raw.fn_for("cc-test-call", "click")
    text = (demo.callcoach.base_persona_dirs[0] / "cooperative-maria.yaml").read_text(encoding="utf-8")
    out = raw.attempt(fn, trigger, [text, "ben", None, None])
    assert "Only trainers" in out


def test_a_reload_cannot_take_over_someone_elses_call(served):
    demo, url = served
    ana = client(url, "ana")
    ana.predict("Ana", "cooperative-maria", False, api_name="/start_call")
    live = [c for c in demo.callcoach.history.list_calls("ana") if not c.ended_at][0].id
    raw = Raw(url, "ben")
    deps = raw.config()["dependencies"]
    load = next(d.get("id", i) for i, d in enumerate(deps) if any(t[1] == "load" for t in d["targets"]))
    # ben's browser claims to remember ana's call: he gets the set-up screen, not her call
    out = raw.attempt(load, None, ["", {"name": "ana", "call_id": live}, False])  # "": the language the page shows
    assert out.startswith("["), out[:300]  # the load ran (it answered), and ...
    assert '"role": "assistant"' not in out and '"role": "user"' not in out
    assert not demo.callcoach.history.is_finished(live)  # ana's call was neither taken nor closed
    ana.predict(False, api_name="/end_call")


def test_a_batch_scores_only_the_callers_uploads(served, tmp_path):
    from gradio_client import handle_file

    _, url = served
    f = tmp_path / "call.txt"
    f.write_text("Agent: Hi, this is Sam from Acme Recovery.\nDebtor: Who?\n", encoding="utf-8")
    ana = client(url, "ana")
    out = ana.predict([handle_file(str(f))], api_name="/score_batch")
    assert "scored" in json.dumps(out)
    # the same uploaded path, used from another login: refused
    r = httpx.post(f"{url}/gradio_api/upload", files={"files": ("c.txt", f.read_bytes())},
                   cookies=Raw(url, "ana").http.cookies)
    [path] = r.json()
    ana_raw = Raw(url, "ana")
    fn, trigger = ana_raw.fn_for("cc-eval-run", "click")
    file_data = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "c.txt"}
    assert "scored" in ana_raw.attempt(fn, trigger, [[file_data], None])
    assert "not uploaded from this page" in Raw(url, "ben").attempt(fn, trigger, [[file_data], None])


def test_an_upload_over_the_size_limit_is_refused(served):
    _, url = served
    raw = Raw(url, "ana")
    limit_mb = int(app_module.MAX_UPLOAD.removesuffix("mb"))
    big = b"Agent: hello\n" * ((limit_mb * 1024 * 1024) // 13 + 1000)
    r = raw.http.post("/gradio_api/upload", files={"files": ("big.txt", big)})
    assert r.status_code == 413, r.status_code
