"""What harvester writes: one JSONL file of API pages per job (``files``), and exports of them."""

from harvester.output.files import OutputFiles, encode_page

__all__ = ["OutputFiles", "encode_page"]
