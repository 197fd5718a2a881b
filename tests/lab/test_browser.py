"""The lab page in a real browser (Debian's chromium through Playwright): the handshake played
by clicks, a story loaded and stepped both ways then continued by hand, a lost segment, bad
URLs, and a shared URL that replays the session."""

from __future__ import annotations

from typing import Any


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    page.errors = errors
    return page


def _settled(page: Any) -> None:
    page.wait_for_function("() => !document.body.classList.contains('busy')")


def _click(page: Any, selector: str) -> None:
    page.click(selector)  # the handler marks the page busy before the click returns
    _settled(page)


def _segments(page: Any) -> list[str]:
    return page.eval_on_selector_all("#ladder g.segment", "els => els.map(e => e.getAttribute('class'))")


def _state(page: Any, host: str) -> str:
    return page.inner_text(f"#state-{host}")


def test_handshake_by_clicks(browser: Any, lab_url: str) -> None:
    page = _open(browser, lab_url + "/")
    page.select_option("#auto", "0")  # no time passes by itself: every step is seen
    _click(page, "#host-server button[data-op=listen]")
    assert _state(page, "server") == "LISTEN"
    _click(page, "#host-client button[data-op=connect]")
    assert (_state(page, "client"), _state(page, "server")) == ("SYN_SENT", "LISTEN")
    assert _segments(page) == ["segment fate-delivered"]  # the SYN, on its way
    assert page.inner_text("#explain").startswith("client: CLOSED \u2192 SYN_SENT (connect)")
    assert "RFC 9293 3.10.1" in page.inner_text("#explain")
    _click(page, "#clock button[data-wait='step']")  # the SYN arrives: SYN_RCVD, SYN-ACK out
    assert _state(page, "server") == "SYN_RCVD"
    lit = page.eval_on_selector_all("#diagram g.now-server", "els => els.map(e => e.dataset.state)")
    assert lit == ["SYN_RCVD"]
    last = page.eval_on_selector_all("#diagram g.last", "els => els.map(e => e.dataset.from + '>' + e.dataset.to)")
    assert last == ["LISTEN>SYN_RCVD"]
    _click(page, "#clock button[data-wait='0.1']")
    _click(page, "#clock button[data-wait='0.1']")
    assert (_state(page, "client"), _state(page, "server")) == ("ESTABLISHED", "ESTABLISHED")
    assert _segments(page) == ["segment fate-delivered"] * 3
    labels = page.eval_on_selector_all("#ladder text.label", "els => els.map(e => e.textContent)")
    assert [label.split()[0] for label in labels] == ["S", "S.", "."]
    both = page.eval_on_selector_all("#diagram g.now-client.now-server", "els => els.map(e => e.dataset.state)")
    assert both == ["ESTABLISHED"]
    assert "a=server.listen" in page.url and "a=client.connect" in page.url
    assert page.errors == []
    page.close()


def test_dropped_segment_and_loss_slider(browser: Any, lab_url: str) -> None:
    page = _open(browser, lab_url + "/?a=server.listen&a=client.connect&a=wait:0.5")
    assert _state(page, "client") == "ESTABLISHED"
    _click(page, "#network button[data-rule=drop][data-dir='client>server']")
    assert "will be dropped" in page.inner_text("#messages")
    page.fill("#host-client .bytes", "500")
    _click(page, "#host-client button[data-op=send]")
    assert _segments(page)[3] == "segment fate-dropped"
    _click(page, "#clock button[data-wait='1']")  # the retransmission timer brings it again
    fates = _segments(page)
    assert fates[3] == "segment fate-dropped" and "segment fate-delivered" in fates[4:]
    # the loss slider: 20 % from now on, both ways
    page.eval_on_selector("#loss", "el => { el.value = 20; el.dispatchEvent(new Event('change')); }")
    _settled(page)
    assert "a=net.loss%3A20" in page.url and page.inner_text("#loss-out") == "20 %"
    assert page.errors == []
    page.close()


def test_story_loaded_stepped_and_taken_over(browser: Any, lab_url: str) -> None:
    page = _open(browser, lab_url + "/")
    page.select_option("#story-select", "simultaneous-open")
    _click(page, "#story-load")
    assert page.inner_text("#story-name") == "simultaneous-open"
    total = int(page.inner_text("#step-count").split(" of ")[1].split()[0])
    assert page.inner_text("#step-count") == f"segment 0 of {total}"
    assert _segments(page) == []
    for n in (1, 2, 3):
        _click(page, "#step-next")
        assert page.inner_text("#step-count").startswith(f"segment {n} of {total}")
        assert len(_segments(page)) == n
    assert (_state(page, "client"), _state(page, "server")) == ("SYN_SENT", "SYN_RCVD")
    _click(page, "#step-back")
    assert len(_segments(page)) == 2 and "at=2" in page.url
    _click(page, "#step-last")
    assert page.inner_text("#step-count").endswith("(the end)")
    assert (_state(page, "client"), _state(page, "server")) == ("ESTABLISHED", "ESTABLISHED")
    # back to segment 2 and take over: the client closes by hand
    _click(page, "#step-first")
    _click(page, "#step-next")
    _click(page, "#step-next")
    page.select_option("#auto", "2")
    _click(page, "#host-client button[data-op=close]")
    assert page.inner_text("#step-count") == "taken over at segment 2"
    assert page.is_disabled("#step-next")
    assert "close()" in page.inner_text("#messages")
    _click(page, "#undo")  # the click undone: stepping again
    assert page.inner_text("#step-count").startswith("segment 2 of")
    assert page.errors == []
    page.close()


def test_bad_url_shows_an_error_and_the_page_goes_on(browser: Any, lab_url: str) -> None:
    page = _open(browser, lab_url + "/?a=client.fly")
    assert page.is_visible("#error")
    assert page.inner_text("#error").startswith("not an action: 'client.fly'")
    _click(page, "#story-load")  # (no story chosen: a fresh start) the server still answers
    assert page.is_hidden("#error")
    assert _state(page, "client") == "CLOSED"
    page.close()


def test_shared_url_replays_the_session(browser: Any, lab_url: str) -> None:
    page = _open(browser, lab_url + "/")
    _click(page, "#host-server button[data-op=listen]")
    _click(page, "#host-client button[data-op=connect]")
    page.fill("#host-client .bytes", "2000")
    _click(page, "#host-client button[data-op=send]")
    _click(page, "#host-client button[data-op=close]")
    shared = page.url
    ladder = page.inner_html("#ladder")
    states = (_state(page, "client"), _state(page, "server"))
    other = _open(browser, shared)
    assert other.inner_html("#ladder") == ladder
    assert (_state(other, "client"), _state(other, "server")) == states == ("FIN_WAIT_2", "CLOSE_WAIT")
    other.close()
    page.close()
