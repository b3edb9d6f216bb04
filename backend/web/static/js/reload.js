// A refetch that coalesces: calls during a fetch make one more fetch after it, not one each.

export function coalesced(fetchOnce) {
  let loading = null;
  let again = false;
  return () => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          again = false;
          await fetchOnce();
        } while (again);
      } finally {
        loading = null;
      }
    })();
    return loading;
  };
}
