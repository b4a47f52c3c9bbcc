"""Data: manifests, image loading, datasets, face extraction and the SynthFaces benchmark."""
