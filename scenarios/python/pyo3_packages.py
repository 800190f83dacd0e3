"""Light threaded use of real PyO3 packages from PyPI: orjson, pydantic-core and
cryptography. Correct code: under gilwatch it must get zero findings.

    python3 pyo3_packages.py [--threads N] [--rounds N]

Each of N threads (default 4) runs R rounds (default 200) of: orjson dumps/loads of a
nested document, a pydantic-core validation (a model-like typed dict, valid and invalid
input), cryptography's SHA-256, HMAC and Fernet encrypt/decrypt. The threads share one
validator and one Fernet key, as an application would. Prints one line; exits 0 when
every round checked out.
"""

import argparse
import threading


def build_workload():
    import orjson
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes, hmac
    from pydantic_core import SchemaValidator, ValidationError, core_schema

    validator = SchemaValidator(core_schema.typed_dict_schema({
        "name": core_schema.typed_dict_field(core_schema.str_schema(min_length=1)),
        "size": core_schema.typed_dict_field(core_schema.int_schema(ge=0)),
        "tags": core_schema.typed_dict_field(core_schema.list_schema(core_schema.str_schema())),
    }))
    fernet = Fernet(Fernet.generate_key())

    def one_round(thread_index, n):
        document = {"name": "item-%d-%d" % (thread_index, n), "size": n, "tags": ["a", "b", str(n)],
                    "nested": {"values": list(range(20)), "ratio": n / 7.0}}
        encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        if orjson.loads(encoded) != document:
            raise AssertionError("orjson round trip changed the document")
        valid = validator.validate_python({"name": document["name"], "size": n, "tags": document["tags"]})
        if valid["size"] != n:
            raise AssertionError("pydantic-core changed a valid value")
        try:
            validator.validate_python({"name": "", "size": -1, "tags": [1]})
            raise AssertionError("pydantic-core accepted invalid input")
        except ValidationError as error:
            if error.error_count() < 2:
                raise AssertionError("pydantic-core found too few errors")
        digest = hashes.Hash(hashes.SHA256())
        digest.update(encoded)
        digest.finalize()
        mac = hmac.HMAC(b"key-%d" % thread_index, hashes.SHA256())
        mac.update(encoded)
        mac.finalize()
        if fernet.decrypt(fernet.encrypt(encoded)) != encoded:
            raise AssertionError("Fernet round trip changed the data")

    return one_round


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    one_round = build_workload()
    errors = []

    def worker(index):
        try:
            for n in range(args.rounds):
                one_round(index, n)
        except BaseException as error:  # reported below, and in the exit status
            errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(i,), name="worker-%d" % i) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit("pyo3_packages: %d thread(s) failed: %s" % (len(errors), errors[0]))
    print("pyo3_packages: %d threads x %d rounds ok" % (args.threads, args.rounds))


if __name__ == "__main__":
    main()
