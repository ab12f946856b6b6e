"""The live stream: a hub that fans server changes out to connected pages."""
