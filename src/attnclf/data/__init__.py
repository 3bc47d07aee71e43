"""Labelled data in, examples out: the shapes it takes (`examples`: RawSplit, Examples,
Dataset), the readers of CSV/TSV/JSONL files and class folders (`readers`), the IMDB archive
(`imdb`) and its download (`download`), and the train/validation/test split of a run (`splits`).
"""
