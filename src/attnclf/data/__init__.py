"""Labelled data in, examples out: the readers for the IMDB archive, CSV/TSV/JSONL files and
folders (`readers`), the IMDB download (`download`), and the splits a run trains on.
"""
