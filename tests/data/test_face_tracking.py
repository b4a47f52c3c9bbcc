"""Landmark tracking: detect every k frames, Lucas-Kanade between, re-detect on failure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.data.face_tracking import FaceTracker, track_faces
from fakescope.data.faces import Face
from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.errors import ConfigError

CANVAS = 192


@pytest.fixture(scope="module")
def face():
    """A rendered SynthFaces face (128 px, uint8) and its 68 landmarks."""
    ident = make_identities(1, seed=3)[0]
    r = render_face(ident, sample_view(np.random.default_rng(1), "studio"), size=128)
    return (r.image * 255).round().astype(np.uint8), r.landmarks.astype(np.float64)


def _moving(face, n, step=(1.3, 0.7)):
    """Frames with the face translated by ``step`` px per frame, and the true landmarks."""
    img, lm = face
    frames, truth = [], []
    for t in range(n):
        dx, dy = 20 + step[0] * t, 20 + step[1] * t
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frames.append(cv2.warpAffine(img, m, (CANVAS, CANVAS), borderMode=cv2.BORDER_REPLICATE))
        truth.append(lm + (dx, dy))
    return frames, np.stack(truth)


class Oracle:
    """A fake detector: the true landmarks of the frame it is shown (found by identity), moved
    ``offsets[t]`` px right, or none for the frames in ``absent``; records the frames it saw."""

    def __init__(self, frames, truth, absent=(), offsets=None):
        self.frames, self.truth, self.absent = frames, truth, set(absent)
        self.offsets = offsets or {}
        self.calls: list[int] = []

    def detect(self, image):
        t = next(i for i, f in enumerate(self.frames) if f is image)
        self.calls.append(t)
        if t in self.absent:
            return []
        lm = (self.truth[t] + (self.offsets.get(t, 0.0), 0.0)).astype(np.float32)
        return [Face((*lm.min(0), *lm.max(0)), 1.0, lm)]


def test_tracked_landmarks_follow_the_translation(face):
    frames, truth = _moving(face, 40)
    det = Oracle(frames, truth)
    track = track_faces(frames, det, detect_every=10)
    assert det.calls == [0, 10, 20, 30]  # T / k detections, nothing more
    assert track.detector_calls == 4 and track.lost_frames == 0
    # later detections agree with the track (within 3 % of the face size): the track is kept
    assert track.detected.tolist() == [t == 0 for t in range(40)]
    err = np.linalg.norm(track.landmarks - truth, axis=2)
    assert track.landmarks.shape == (40, 68, 2)
    assert err.max() < 1.0  # every point of every frame within 1 px
    # without tracking the landmarks would be off by the motion since the last detection
    stale = np.linalg.norm(truth[9] - truth[0], axis=1)
    assert stale.min() > 5


def test_detections_replace_the_track_only_when_it_drifted(face):
    frames, truth = _moving(face, 30)
    # at frame 10 the detector sees the face 1 px off (its own jitter): the track is kept;
    # at frame 20 8 px off (~8 % of the face: as if the track drifted): the detection wins
    det = Oracle(frames, truth, offsets={10: 1.0, 20: 8.0})
    track = track_faces(frames, det, detect_every=10)
    assert det.calls == [0, 10, 20]
    assert track.detected.tolist() == [t in (0, 20) for t in range(30)]
    err = track.landmarks[:, :, 0] - truth[:, :, 0]
    assert np.abs(err[:20]).max() < 1.0  # kept the track at 10
    assert np.abs(err[20:] - 8).max() < 1.0  # took the detection at 20 and tracked from it


def test_detector_miss_while_tracking_keeps_the_track(face):
    frames, truth = _moving(face, 25)
    det = Oracle(frames, truth, absent={10})
    track = track_faces(frames, det, detect_every=10)
    assert det.calls == [0, 10, 11, 21]  # asked again on the next frame, then every 10
    assert track.lost_frames == 0
    assert np.linalg.norm(track.landmarks - truth, axis=2).max() < 1.0


def test_vanished_face_triggers_redetection(face):
    frames, truth = _moving(face, 30)
    frames[13] = np.full_like(frames[13], 90)  # the face vanishes for one frame
    det = Oracle(frames, truth, absent={13})
    track = track_faces(frames, det, detect_every=10)
    # tracking into the blank frame fails -> detect at 13 (nothing) -> detect again at 14
    assert det.calls == [0, 10, 13, 14, 24]
    assert np.isnan(track.landmarks[13]).all() and track.lost_frames == 1
    ok = np.isfinite(track.landmarks[:, 0, 0])
    err = np.linalg.norm(track.landmarks[ok] - truth[ok], axis=2)
    assert err.max() < 1.0


def test_sudden_turn_makes_tracking_fail_and_redetect(face):
    frames, truth = _moving(face, 20)
    img, lm = face
    # from frame 6 on the face is rolled by 40 degrees (a cut): too much for Lucas-Kanade
    for t in range(6, 20):
        m = cv2.getRotationMatrix2D((64, 64), 40, 1.0)
        m[:, 2] += (20 + 1.3 * t, 20 + 0.7 * t)
        frames[t] = cv2.warpAffine(img, m, (CANVAS, CANVAS), borderMode=cv2.BORDER_REPLICATE)
        truth[t] = lm @ m[:, :2].T + m[:, 2]
    det = Oracle(frames, truth)
    track = track_faces(frames, det, detect_every=10)
    assert det.calls == [0, 6, 16]  # re-detected at once, then every 10 frames again
    assert track.detected[6] and not track.detected[7]
    assert np.linalg.norm(track.landmarks - truth, axis=2).max() < 1.0


def test_picks_largest_then_nearest_face():
    small = np.array([[x, y] for x in range(10, 27) for y in range(10, 14)][:68], np.float32)
    big = small * 3 + 100
    calls = []

    def detector(image):  # a plain callable is accepted too
        calls.append(1)
        shift = 2.0 * len(calls)
        return [Face((0, 0, 30, 30), 1.0, small + shift), Face((100, 100, 190, 190), 1.0, big)]

    frames = [np.zeros((64, 64, 3), np.uint8)] * 3  # texture-less: tracking always fails
    track = track_faces(frames, detector, detect_every=5)
    assert len(calls) == 3  # re-detected on every frame
    np.testing.assert_allclose(track.landmarks[0], big)  # no previous face: the largest
    tracker = FaceTracker(detector)
    tracker._box = (10, 10, 30, 30)  # a previous face near the small one
    pts, det = tracker.update(frames[0])
    assert det and pts[:, 0].max() < 40


def test_min_score_and_landmark_checks():
    lm = np.zeros((68, 2), np.float32) + 5
    weak = [Face((0, 0, 10, 10), 0.2, lm)]
    track = track_faces([np.zeros((16, 16, 3), np.uint8)] * 2, lambda im: weak, min_score=0.5)
    assert track.lost_frames == 2 and track.detector_calls == 2
    no_lm = [Face((0, 0, 10, 10), 1.0, None)]
    assert track_faces([np.zeros((16, 16, 3), np.uint8)], lambda im: no_lm).lost_frames == 1
    with pytest.raises(ConfigError, match="detect"):
        track_faces([], object())
    with pytest.raises(ConfigError, match="detect_every"):
        track_faces([], lambda im: [], detect_every=0)
    empty = track_faces([], lambda im: [])
    assert empty.landmarks.shape == (0, 68, 2)


def test_detect_max_side_scales_landmarks_back(face):
    frames, truth = _moving(face, 3)
    seen = []

    def detector(image):
        seen.append(image.shape[:2])
        s = image.shape[0] / CANVAS
        lm = (truth[0] * s).astype(np.float32)
        return [Face((*lm.min(0), *lm.max(0)), 1.0, lm)]

    track = track_faces(frames[:1], detector, detect_max_side=96)
    assert seen == [(96, 96)]
    np.testing.assert_allclose(track.landmarks[0], truth[0], atol=1e-3)


@pytest.mark.faces
def test_dlib_finds_synthfaces_faces(face):
    pytest.importorskip("dlib")
    from fakescope.data.faces import create_face_detector

    det = create_face_detector("hog")
    img, lm = face
    big = cv2.resize(img, (256, 256), interpolation=cv2.INTER_CUBIC)
    faces = det.detect(big)
    assert len(faces) == 1
    err = np.linalg.norm(faces[0].landmarks - lm * 2, axis=1)
    assert np.median(err) < 8  # dlib's 68 points land near SynthFaces' own (256 px scale)
    frames = [cv2.resize(f, (384, 384)) for f in _moving(face, 12)[0]]
    track = track_faces(frames, det, detect_every=5)
    assert track.lost_frames == 0 and track.detector_calls == 3
