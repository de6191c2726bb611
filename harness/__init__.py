"""Build, boot and test Linux XDP patch series in virtme-ng guests."""

__version__ = "0.1.0"
