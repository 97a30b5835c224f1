"""The one seam through which the web app asks "may company X see product Y?".

It applies the one access model (:mod:`pcfx.streams.access`, "Who sees what" in docs/contract.md) through the
read model's SQL form of it (:data:`readmodel.VISIBLE`): the company owns a footprint of the product, an owner
granted it, or one of its recipes buys it. A carbon label the company holds also opens the page: the worker
issues labels under the same rule, so the two answers agree, and the label table answers before the
read model has caught up with the grant.
"""

from __future__ import annotations

import sqlite3

from pcfx.connectors.pact_api.readmodel import VISIBLE


def may_see(conn: sqlite3.Connection, company: str, product: str) -> bool:
    """May ``company`` open the page of ``product`` (a product URN)?"""
    company, product = company.lower(), product.lower()
    labelled = conn.execute("SELECT 1 FROM labels WHERE buyer = ? AND lower(product) = ?", (company, product)).fetchone()
    if labelled is not None:
        return True
    sql = (f"SELECT 1 FROM footprints f WHERE f.seq IN (SELECT seq FROM footprint_keys WHERE kind = 'product' "
           f"AND value = :product) AND {VISIBLE} LIMIT 1")
    return conn.execute(sql, {"product": product, "company": company}).fetchone() is not None
