"""``annolog gc-attachments`` lists, then removes, only blobs no event references."""

from __future__ import annotations

import os
import time

from eventstore.blobs import BlobStore
from eventstore.commands import CreateAnnotation, NewAttachment, PutAnnotation, UploadDocument
from eventstore.log import open_log
from eventstore.writer import Writer
from tools.cli import main


def test_gc_keeps_referenced_and_young_blobs_and_removes_old_orphans(tmp_path, capsys):
    data = tmp_path / "data"
    blobs = BlobStore(data / "blobs")
    pdf, image, orphan, young = (blobs.put_bytes(b) for b in (b"%PDF-1", b"img", b"old", b"new"))
    log = open_log(data)
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", None, pdf, 6, False, None)])
    [outcome] = writer.execute([CreateAnnotation(
        "d", "", "a", {"imageAttachmentId": image}, None, None, references=(image,),
        attachments=(NewAttachment(image, "image/png", 3),))])
    assert outcome.revision
    writer.stop()
    log.close()
    old = time.time() - 7200
    for sha in (pdf, image, orphan):
        os.utime(blobs.path(sha), (old, old))

    assert main(["gc-attachments", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"would remove {orphan}" in out and "1 blobs" in out
    assert blobs.exists(orphan)

    assert main(["gc-attachments", "--data-dir", str(data), "--delete"]) == 0
    assert not blobs.exists(orphan)
    assert all(blobs.exists(sha) for sha in (pdf, image, young))


def test_gc_keeps_the_blob_of_an_attachment_whose_id_is_not_its_hash(tmp_path, capsys):
    """Regression: gc took an import's attachment key ("myimagekey") for the blob's name and
    listed the blob, named by its SHA-256, as unreferenced."""
    data = tmp_path / "data"
    blobs = BlobStore(data / "blobs")
    image = blobs.put_bytes(b"\x89PNG\r\n\x1a\nimage")
    log = open_log(data)
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", None, blobs.put_bytes(b"%PDF-1"), 6, False, None)])
    writer.execute([PutAnnotation(
        "d", "", "a", {"imageAttachmentId": "myimagekey"}, None, None,
        references=("myimagekey",),
        attachments=(NewAttachment("myimagekey", "image/png", 13, sha256=image),))])
    writer.stop()
    log.close()
    old = time.time() - 7200
    for path in (blobs.root / image[:2]).iterdir():
        os.utime(path, (old, old))

    assert main(["gc-attachments", "--data-dir", str(data), "--min-age", "0",
                 "--delete"]) == 0
    assert "0 blobs" in capsys.readouterr().out
    assert blobs.exists(image)


def test_gc_without_a_log_says_so(tmp_path, capsys):
    assert main(["gc-attachments", "--data-dir", str(tmp_path)]) == 1
    assert "no log" in capsys.readouterr().err
