"""The benchmark suite: ``python -m bench`` (``make bench``) measures every performance target.

Each measurement is a ratio taken side by side in one run (the product against a baseline on the
same input, interleaved), compared with its target. The suite writes ``bench/results.json`` and
``bench/results.md``; ``python -m bench.readme`` copies the table into README.md.
"""
