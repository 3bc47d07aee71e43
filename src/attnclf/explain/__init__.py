"""What a model read, and whether that explains its decision: the Explanation type and
explain() (`explanation`), the views that draw it (terminal, HTML, PNG, the token-by-token
`matrix`), the page shell they share (`shell`), the colour ramp (`colours`), and faithfulness
(`faithfulness`: erasure metrics and gradient attributions).
"""
