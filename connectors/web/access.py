"""The one seam through which the web app asks "may company X see product Y?".

Today it combines the host's two existing rules: the company holds a carbon label of the product (the
worker issues labels only while the buyer is entitled), or the read model lets it see a footprint of that
product (its own data, or a grant; :data:`readmodel.VISIBLE`). When the access model becomes one, only
this function changes.
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
