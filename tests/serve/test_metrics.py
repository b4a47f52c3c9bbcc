import re

from fakescope.serve.metrics import ServiceMetrics


def test_prometheus_text_format():
    m = ServiceMetrics()
    m.requests.inc(route="/detect", status="200")
    m.requests.inc(route="/detect", status="200")
    m.detector_seconds.observe(0.03, detector='tiny"x')
    m.batch_size.observe(5)
    m.gauge("fakescope_ready", "ready", lambda: 1.0)
    text = m.render()
    assert 'fakescope_http_requests_total{route="/detect",status="200"} 2' in text
    assert 'fakescope_detector_batch_seconds_bucket{detector="tiny\\"x",le="0.025"} 0' in text
    assert 'fakescope_detector_batch_seconds_bucket{detector="tiny\\"x",le="0.05"} 1' in text
    assert "fakescope_batch_size_bucket{le=\"4\"} 0" in text
    assert "fakescope_batch_size_bucket{le=\"8\"} 1" in text
    assert "fakescope_batch_size_count 1" in text and "fakescope_ready 1" in text
    sample = re.compile(r'^[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$|^# (HELP|TYPE) ')
    assert all(sample.match(line) for line in text.strip().splitlines())
