"""What the public sources answer, as the tests feed it to the direct connectors."""

from __future__ import annotations

ECB_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time='DAY'>
      <Cube currency='JPY' rate='162.50'/>
      <Cube currency='USD' rate='1.0448'/>
      <Cube currency='GBP' rate='0.83110'/>
    </Cube>
  </Cube>
</gesmes:Envelope>
"""
