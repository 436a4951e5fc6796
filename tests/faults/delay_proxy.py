"""A transparent TCP relay that delays every chunk by a fixed time: the fault
suite's stand-in for netem, which this kernel lacks. iptables REDIRECTs a
member's outgoing cluster connections here; the relay finds the original
destination (SO_ORIGINAL_DST), connects to it and forwards both directions,
each chunk released `delay` after it arrived (order kept).

    delay_proxy.py PORT DELAY_MS
"""
import asyncio
import socket
import struct
import sys

SO_ORIGINAL_DST = 80
# The relay's own connections carry this firewall mark, which the REDIRECT
# rule exempts (net.py): without it they would be redirected back to the
# relay itself, and no new cluster connection would ever get through.
MARK = 0x77


def original_destination(sock):
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(packed), port


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def release():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(release())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + delay, data or None))
            if not data:
                break
    except (ConnectionError, OSError):
        await queue.put((loop.time(), None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def handle(reader, writer, delay):
    host, port = original_destination(writer.get_extra_info("socket"))
    try:
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
        up.setblocking(False)
        await asyncio.get_running_loop().sock_connect(up, (host, port))
        up_reader, up_writer = await asyncio.open_connection(sock=up)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pump(reader, up_writer, delay), pump(up_reader, writer, delay),
                         return_exceptions=True)


async def main(port, delay):
    server = await asyncio.start_server(lambda r, w: handle(r, w, delay), "0.0.0.0", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) / 1000.0))
