"""Labelled data in, examples out: the shapes it takes (`examples`: RawSplit, Source, Examples,
Dataset), the readers (`readers`, which dispatches by the source's kind: CSV/TSV/JSON/JSONL in
`tables`, Parquet, Arrow and Hugging Face save_to_disk folders in `arrow`, class folders), the
columns a table's text and label are in (`columns`), bytes to lines (`lines`), the rules for one
row's text and label (`labels`), rows already in memory (`memory`), the IMDB archive (`imdb`)
and its download (`download`), and the train/validation/test split of a run (`splits`).
"""
