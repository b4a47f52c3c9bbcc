import threading

import pytest
import torch

from fakescope.serve.batching import Item, MicroBatcher
from fakescope.serve.detectors import load_detectors, score_inputs
from fakescope.serve.limits import IntakeError


@pytest.fixture
def dets(toy_best):
    return load_detectors([toy_best], device="cpu", samples=4)


def items(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(n, 3, 32, 32, generator=g)
    return [Item(image=None, inputs={"tiny": x}) for x in xs], xs


def test_concurrent_images_share_batches_and_match_direct_scoring(dets):
    b = MicroBatcher(dets, max_batch_size=8, batch_timeout_ms=200)
    its, xs = items(8)
    with b.compute_lock:  # hold the worker so that all eight are waiting together
        futs = [b.submit(it) for it in its]
    got = [f.result(timeout=30)["tiny"] for f in futs]
    b.close()
    assert b.metrics.batch_size.count() == 1  # one batch of eight
    direct, _ = score_inputs(dets[0], xs)
    for g, d in zip(got, direct, strict=True):
        assert g["p_fake"] == pytest.approx(d["p_fake"], abs=1e-6)
        assert g["uncertainty"]["epistemic"] == pytest.approx(d["uncertainty"]["epistemic"],
                                                              abs=1e-6)
        assert g["p_fake_range"][0] <= g["p_fake_range"][1]


def test_batches_close_at_max_size_and_threads_get_their_own_answer(dets):
    b = MicroBatcher(dets, max_batch_size=3, batch_timeout_ms=50)
    its, _ = items(7, seed=1)
    out = {}

    def client(i):
        out[i] = b.submit(its[i]).result(timeout=30)["tiny"]["p_fake"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.close()
    assert len(out) == 7 and b.metrics.batch_size.count() >= 3  # 7 images, at most 3 a batch
    solo, _ = score_inputs(dets[0], torch.stack([it.inputs["tiny"] for it in its]))
    assert [out[i] for i in range(7)] == pytest.approx([s["p_fake"] for s in solo], abs=1e-6)


def test_full_queue_is_refused_with_retry_after(dets):
    b = MicroBatcher(dets, max_batch_size=1, batch_timeout_ms=0, queued_images=2)
    its, _ = items(5)
    accepted = 0
    with b.compute_lock, pytest.raises(IntakeError) as e:  # the worker can take one at most
        for it in its:
            b.submit(it)
            accepted += 1
    assert e.value.status == 503 and e.value.retry_after >= 1 and accepted in (2, 3)
    b.close()


def test_a_cancelled_request_is_skipped(dets):
    b = MicroBatcher(dets, max_batch_size=4, batch_timeout_ms=100)
    its, _ = items(2)
    with b.compute_lock:
        f0 = b.submit(its[0])
        f1 = b.submit(its[1])
        assert f1.cancel()
    assert f0.result(timeout=30)["tiny"]["p_fake"] >= 0
    b.close()
    assert b.metrics.batch_size.count() == 1


def test_an_image_gets_the_answer_of_detect_on_it_alone(dets):
    """mc_head per image: neighbours in the batch do not change an image's answer."""
    from fakescope.models.predict import predict

    _, xs = items(5, seed=3)
    batched, _ = score_inputs(dets[0], xs)
    for i in range(5):
        alone = predict(dets[0].model, xs[i:i + 1], method="mc_head", samples=4, seed=0)
        assert batched[i]["p_fake"] == pytest.approx(float(alone.p_fake[0]), abs=1e-5)
