#!/usr/bin/env python3
"""Peer for the pack benchmark: datatrove's tokenization step on one JSONL file.

    TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 taskset -c 0 \\
      python benches/pack/datatrove_tokenize.py --input FILE --tokenizer tokenizer.json --output DIR

A LocalPipelineExecutor (tasks=1, workers=1) running JsonlReader(text_key="text") ->
DocumentTokenizer(tokenizer.json, eos_token="<|endoftext|>", shuffle_documents=True by default,
--no-shuffle to turn it off). DocumentTokenizer encodes with Tokenizer.encode_batch in batches of
10000 documents, appends the EOS through a TemplateProcessing post-processor, writes uint32 ids
(vocab > 65536) to a .ds file with a .ds.index of document ends, then (shuffled) copies the
documents into a new file in a random order.

One deliberate setting: `encode_special_tokens = True` on the loaded tokenizer, so that
special-token strings inside documents (one code file in the benchmark input contains
"<filename>") are encoded as text, as arcade does; otherwise that one document's ids would differ.
"""

import argparse
import os
import shutil
from functools import cached_property

# Before tokenizers is imported: one thread (the executor runs a single worker).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.tokens import DocumentTokenizer  # noqa: E402


class TextSpecialsDocumentTokenizer(DocumentTokenizer):
    """DocumentTokenizer whose tokenizer encodes special-token strings in documents as text."""

    @cached_property
    def tokenizer(self):
        tok = DocumentTokenizer.tokenizer.func(self)
        tok.encode_special_tokens = True
        return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", required=True, help="a JSONL file with a `text` field")
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json")
    ap.add_argument("--output", required=True, help="output directory (replaced)")
    ap.add_argument("--no-shuffle", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(a.output, ignore_errors=True)
    folder, name = os.path.split(os.path.abspath(a.input))
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(folder, glob_pattern=name, text_key="text", id_key="id"),
            TextSpecialsDocumentTokenizer(
                output_folder=os.path.join(a.output, "tokenized"),
                tokenizer_name_or_path=a.tokenizer,
                eos_token="<|endoftext|>",
                shuffle_documents=not a.no_shuffle,
                seed=1234,
            ),
        ],
        tasks=1,
        workers=1,
        logging_dir=os.path.join(a.output, "logs"),
    ).run()


if __name__ == "__main__":
    main()
