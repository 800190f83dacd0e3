"""Light threaded use of widely used native packages from PyPI: numpy, pyzmq and grpcio
(C, C++ with absl's futex-based locks, Cython). Correct code: under gilwatch it must get
zero findings.

    python3 native_packages.py [--threads N] [--rounds N]

numpy: N threads multiply and reduce matrices (the GIL released inside). pyzmq: N
REQ/REP pairs over inproc sockets of one context, R messages each. grpcio: a server with
a thread pool and N client threads making R health checks each over a local channel.
Prints one line; exits 0 when every part checked out.
"""

import argparse
import concurrent.futures
import threading


def run_threads(count, target):
    errors = []

    def guarded(index):
        try:
            target(index)
        except BaseException as error:  # reported in the exit status
            errors.append(repr(error))

    threads = [threading.Thread(target=guarded, args=(i,), name="worker-%d" % i) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit("native_packages: %s" % errors[0])


def numpy_part(threads, rounds):
    import numpy

    def work(index):
        rng = numpy.random.default_rng(index)
        for _ in range(rounds // 10 + 1):
            a = rng.random((64, 64))
            if not numpy.allclose((a @ numpy.eye(64)).sum(), a.sum()):
                raise AssertionError("numpy result changed")
    run_threads(threads, work)


def zmq_part(threads, rounds):
    import zmq
    context = zmq.Context()

    def pair(index):
        server = context.socket(zmq.REP)
        server.bind("inproc://pair-%d" % index)
        client = context.socket(zmq.REQ)
        client.connect("inproc://pair-%d" % index)
        for n in range(rounds):
            client.send(b"ping %d" % n)
            server.send(server.recv().replace(b"ping", b"pong"))
            if client.recv() != b"pong %d" % n:
                raise AssertionError("zmq reply changed")
        client.close()
        server.close()
    run_threads(threads, pair)
    context.term()


def grpc_part(threads, rounds):
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()

    def client(index):
        with grpc.insecure_channel("127.0.0.1:%d" % port) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in range(rounds):
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    raise AssertionError("grpc health changed")
    try:
        run_threads(threads, client)
    finally:
        server.stop(None).wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    numpy_part(args.threads, args.rounds)
    zmq_part(args.threads, args.rounds)
    grpc_part(args.threads, args.rounds)
    print("native_packages: numpy, pyzmq, grpcio: %d threads x %d rounds ok" % (args.threads, args.rounds))


if __name__ == "__main__":
    main()
