// placeholder: the real handler is being written by the lead
export const handler = async (event: unknown) => event;
