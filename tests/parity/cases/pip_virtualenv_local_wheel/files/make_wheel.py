"""Writes zdd_fixture-1.0-py3-none-any.whl, a one-module wheel, into the directory given."""
import base64
import hashlib
import sys
import zipfile

files = {
    "zdd_fixture/__init__.py": "VERSION = '1.0'\n",
    "zdd_fixture-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: zdd-fixture\nVersion: 1.0\n",
    "zdd_fixture-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: zdd\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(text.encode())}")
record.append("zdd_fixture-1.0.dist-info/RECORD,,")
files["zdd_fixture-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(sys.argv[1] + "/zdd_fixture-1.0-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
