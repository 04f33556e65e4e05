"""Seeded data sets: planned and signed as batch transactions, loaded into a running network
over HTTP (`http_load`) or imported into stopped nodes' data directories through the network's
own consensus (`offline_import`)."""
