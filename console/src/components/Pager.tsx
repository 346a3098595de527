/** Cursor paging for the API's lists: newer and older pages, the cursor kept in the URL. */
import { Button, Group } from "@mantine/core";
import { useSearchParams } from "react-router";

export function useCursor(): [number | undefined, (cursor: number | null) => void] {
  const [params, setParams] = useSearchParams();
  const raw = params.get("cursor");
  const cursor = raw && /^\d+$/.test(raw) ? Number(raw) : undefined;
  const set = (next: number | null) =>
    setParams((old) => {
      const copy = new URLSearchParams(old);
      if (next === null) copy.delete("cursor");
      else copy.set("cursor", String(next));
      return copy;
    });
  return [cursor, set];
}

export function Pager({ nextCursor }: { nextCursor: number | null | undefined }) {
  const [cursor, setCursor] = useCursor();
  if (cursor === undefined && !nextCursor) return null;
  return (
    <Group justify="flex-end" mt="sm">
      <Button variant="default" size="xs" disabled={cursor === undefined} onClick={() => setCursor(null)}>
        Newest
      </Button>
      <Button variant="default" size="xs" disabled={!nextCursor} onClick={() => setCursor(nextCursor ?? null)}>
        Older
      </Button>
    </Group>
  );
}
