import threading

import pytest

from fakescope.detect import DetectOptions, MediaInput
from fakescope.serve.batching import Item, MicroBatcher
from fakescope.serve.detectors import load_detectors
from fakescope.serve.limits import IntakeError
from tests.serve.conftest import png_bytes


@pytest.fixture
def dets(toy_best):
    from fakescope.detect import DetectOptions

    return load_detectors([toy_best], device="cpu", samples=4,
                          options=DetectOptions(faces="none"))


def items(n, seed=0):
    return [Item(data=png_bytes((32, 32), seed=seed + i)) for i in range(n)]


def alone(det, item):
    (r,) = det.score([MediaInput(name="x", data=item.data, kind="image")])
    return r


def test_concurrent_images_share_batches_and_get_detects_answers(dets):
    b = MicroBatcher(dets, max_batch_size=8, batch_timeout_ms=200)
    its = items(8)
    with b.compute_lock:  # hold the worker so that all eight are waiting together
        futs = [b.submit(it) for it in its]
    got = [f.result(timeout=30)["tiny"] for f in futs]
    b.close()
    assert b.metrics.batch_size.count() == 1  # one batch of eight
    for g in got:
        assert set(g) >= {"path", "kind", "verdict", "p_fake", "uncertainty", "ood_score",
                          "in_distribution", "faces"}
    # deterministic passes: each image's answer is its answer alone
    b = MicroBatcher([type(dets[0])(**{**dets[0].__dict__})], max_batch_size=8,
                     batch_timeout_ms=200)
    b.detectors[0].session.options = DetectOptions(faces="none", uncertainty="none")
    its = items(8)
    with b.compute_lock:
        futs = [b.submit(it) for it in its]
    got = [f.result(timeout=30)["tiny"]["p_fake"] for f in futs]
    b.close()
    solo = [alone(b.detectors[0], it)["p_fake"] for it in its]
    assert got == pytest.approx(solo, abs=1e-5)


def test_batches_close_at_max_size_and_threads_get_their_own_answer(dets):
    b = MicroBatcher(dets, max_batch_size=3, batch_timeout_ms=50)
    its = items(7, seed=1)
    out = {}

    def client(i):
        out[i] = b.submit(its[i]).result(timeout=30)["tiny"]["path"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.close()
    assert b.metrics.batch_size.count() >= 3  # 7 images, at most 3 a batch
    assert [out[i] for i in range(7)] == [it.uid for it in its]


def test_full_queue_is_refused_with_retry_after(dets):
    b = MicroBatcher(dets, max_batch_size=1, batch_timeout_ms=0, queued_images=2)
    its = items(5)
    accepted = 0
    with b.compute_lock, pytest.raises(IntakeError) as e:  # the worker can take one at most
        for it in its:
            b.submit(it)
            accepted += 1
    assert e.value.status == 503 and e.value.retry_after >= 1 and accepted in (2, 3)
    b.close()


def test_a_cancelled_request_is_skipped(dets):
    b = MicroBatcher(dets, max_batch_size=4, batch_timeout_ms=100)
    its = items(2)
    with b.compute_lock:
        f0 = b.submit(its[0])
        f1 = b.submit(its[1])
        assert f1.cancel()
    assert f0.result(timeout=30)["tiny"]["p_fake"] >= 0
    b.close()
    assert b.metrics.batch_size.count() == 1
