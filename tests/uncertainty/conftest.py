import pytest
import torch

from fakescope.models import create_detector


@pytest.fixture
def tiny_detector():
    torch.manual_seed(0)
    return create_detector("tiny", dropout=0.5, image_size=32).eval()


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 3, 32, 32, generator=g)
