"""The serving side: the local Hub server, dataset pages and previews, the static catalog, publishing.

It imports the build side (`builders.pipeline`, `builders.cards`, ...) and is never imported by it, so a
build loads no web framework, HTML renderer or video decoder, and editing a page does not change the
code version that an interrupted build's staged jobs are checked against.
"""
