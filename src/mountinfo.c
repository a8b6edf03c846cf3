/*
 * mountinfo.c - see include/mmapfs/mountinfo.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mmapfs/mountinfo.h"

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

bool mountinfo_find(const char *mountpoint, const char *type_prefix,
		    struct mountinfo_entry *out)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		/* id parent MAJ:MIN root mountpoint options ... - type source ... */
		char *fields[5], *save = NULL, *p = line, *type, *end;
		char *sep = strstr(line, " - ");
		int n = 0;

		if (!sep)
			continue;
		*sep = '\0';
		type = sep + 3;
		end = strchr(type, ' ');
		if (end)
			*end = '\0';
		while (n < 5 && (fields[n] = strtok_r(p, " ", &save)))
			p = NULL, n++;
		if (n < 5 || (type_prefix && !g_str_has_prefix(type, type_prefix)))
			continue;
		unescape(fields[4]);
		if (strcmp(fields[4], mountpoint) == 0) {
			g_strlcpy(out->dev, fields[2], sizeof(out->dev));
			g_strlcpy(out->fstype, type, sizeof(out->fstype));
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}
