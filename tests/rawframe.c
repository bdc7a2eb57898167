/*
 * rawframe.c: an end-to-end test tool that speaks bad protocol on purpose.
 * Connects to the daemon's socket, sends one kind of bad frame, then reads
 * until the daemon closes the connection (or 5 s pass) and prints
 * "reply_bytes=N closed=0|1".
 *
 *   rawframe SOCKET garbage     a frame of bytes that are no Request
 *   rawframe SOCKET oversized   a header announcing 32 MiB (over the limit)
 *   rawframe SOCKET truncated   a header announcing 100 bytes, 10 sent, EOF
 *   rawframe SOCKET badversion  a well-formed hello for protocol version 99;
 *                               also prints the reply's printable text
 *   rawframe SOCKET unsorted    a hello, then a start of echo whose args are
 *                               a record with keys out of order (not the
 *                               canonical encoding); prints the replies'
 *                               text; waits 1 s, not for a close
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	unsigned char buf[4096];
	size_t total = 0, tlen = 0;
	char text[1024];
	int fd, closed = 0;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: rawframe SOCKET garbage|oversized|truncated|badversion|unsorted\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("connect");
		return 1;
	}
	memset(buf, 0xff, sizeof(buf));
	if (strcmp(argv[2], "garbage") == 0) {
		unsigned char hdr[4] = { 0, 0, 0, 16 };

		n = write(fd, hdr, 4) + write(fd, buf, 16);
	} else if (strcmp(argv[2], "oversized") == 0) {
		unsigned char hdr[4] = { 0x02, 0, 0, 0 };

		n = write(fd, hdr, 4);
	} else if (strcmp(argv[2], "badversion") == 0) {
		/* Request{id: 1, hello: {version: 99}} */
		unsigned char msg[10] = { 0, 0, 0, 6, 0x08, 0x01, 0x12, 0x02,
		    0x08, 99 };

		n = write(fd, msg, sizeof(msg));
	} else if (strcmp(argv[2], "unsorted") == 0) {
		/* Request{id 1, hello{version 1}}, then Request{id 2,
		 * start{flow "echo", args {"b": 1, "a": 1}}} */
		static const unsigned char msg[] = {
			0, 0, 0, 6, 0x08, 0x01, 0x12, 0x02, 0x08, 0x01,
			0, 0, 0, 32, 0x08, 0x02, 0x1a, 0x1c,
			0x0a, 0x04, 'e', 'c', 'h', 'o', 0x12, 0x14,
			0x42, 0x12,
			0x0a, 0x07, 0x0a, 0x01, 'b', 0x12, 0x02, 0x18, 0x02,
			0x0a, 0x07, 0x0a, 0x01, 'a', 0x12, 0x02, 0x18, 0x02,
		};

		n = write(fd, msg, sizeof(msg));
	} else if (strcmp(argv[2], "truncated") == 0) {
		unsigned char hdr[4] = { 0, 0, 0, 100 };

		n = write(fd, hdr, 4) + write(fd, buf, 10);
		shutdown(fd, SHUT_WR);
	} else {
		fprintf(stderr, "rawframe: unknown mode %s\n", argv[2]);
		return 2;
	}
	(void)n;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, strcmp(argv[2], "unsorted") == 0 ? 1000 :
		    5000) <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			closed = 1;
			break;
		}
		if (strcmp(argv[2], "badversion") == 0 ||
		    strcmp(argv[2], "unsorted") == 0)
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] >= 0x20 && buf[i] < 0x7f)
					text[tlen < sizeof(text) - 1 ? tlen++ :
					    tlen] = (char)buf[i];
		total += (size_t)n;
	}
	text[tlen] = '\0';
	printf("reply_bytes=%zu closed=%d%s%s\n", total, closed,
	    tlen ? " text=" : "", text);
	close(fd);
	return 0;
}
